from demo import views
from django.urls import path

urlpatterns = [
    path("product/<int:number>", views.product),
    path("page", views.page),
    path("visits", views.visits),
    path("async-hits", views.async_hits),
]
