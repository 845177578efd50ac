"""Server-rendered pages: thin views over the selectors and services the API uses too."""
