"""Output shape of the catalog."""

from rest_framework import serializers

from .models import Product


class ProductOutput(serializers.ModelSerializer):
    product_id = serializers.CharField(source="sku", read_only=True)
    available = serializers.IntegerField(source="available_units", read_only=True)

    class Meta:
        model = Product
        fields = (
            "product_id",
            "sku",
            "name",
            "price_cents",
            "currency",
            "on_hand",
            "reserved",
            "available",
        )
        read_only_fields = fields
