"""The bookshop's recommendations service."""
