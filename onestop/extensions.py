"""The extension objects, where features have always imported them from; they live in
``onestop.core.extensions`` so that ``core`` needs nothing above itself."""

from onestop.core.extensions import Api, Blueprint, api, db

__all__ = ["Api", "Blueprint", "api", "db"]
