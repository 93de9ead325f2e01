"""The procedure catalogue: file schema and loader for ``procedures/``, versioned models, API."""
