"""Connexion's default middleware stack with the tuned layers (AsyncApp's `middlewares`)."""
from __future__ import annotations

from typing import Any

from connexion.middleware.main import ConnexionMiddleware
from connexion.middleware.request_validation import RequestValidationMiddleware
from connexion.middleware.swagger_ui import SwaggerUIMiddleware

from uapi.connexion_tuning.swagger_ui import PassThroughSwaggerUIMiddleware
from uapi.connexion_tuning.validation_layer import OnceRequestValidationMiddleware


def middlewares() -> list[Any]:
    """Connexion's default middleware stack (AsyncApp's `middlewares` option) with the tuned layers."""
    replacements = {RequestValidationMiddleware: OnceRequestValidationMiddleware,
                    SwaggerUIMiddleware: PassThroughSwaggerUIMiddleware}
    return [replacements.get(layer, layer) for layer in ConnexionMiddleware.default_middlewares]
