"""The storefront's pages."""

from __future__ import annotations

from django.urls import path

from storefront import views

app_name = "storefront"
urlpatterns = [
    path("", views.home, name="home"),
    path("category/<slug:slug>/", views.category, name="category"),
    path("books/<int:book_id>/", views.book, name="book"),
]
