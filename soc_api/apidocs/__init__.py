"""``/docs``: the OpenAPI reference in Swagger UI, with every file served by citysoc itself."""
