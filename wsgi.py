"""WSGI entry point for gunicorn: ``gunicorn wsgi:app``."""

from onestop import create_app

app = create_app()
