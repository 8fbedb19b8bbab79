"""Loaders, the embedded warehouse and the `analytics` command of the product-analytics project."""
