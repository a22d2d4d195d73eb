"""Catalog and stock in the admin. Edits go through inventory.services with the version the
form was loaded with, so two staff editing one product never overwrite each other. Prices show
and are typed as money in the product's currency (20.99); the database keeps integer cents."""

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest

from ordersite.errors import ConflictError
from ordersite.money import minor_digits, money_column, to_major_units, to_minor_units

from . import services
from .models import Product, Reservation


class ReservationInline(admin.TabularInline):
    model = Reservation
    fields = ("order", "quantity", "status", "created_at", "updated_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class ProductForm(forms.ModelForm):
    price = forms.DecimalField(
        min_value=Decimal(0),
        max_digits=18,
        help_text="In the currency's main unit: 20.99 is USD 20.99 (stored as 2099 cents).",
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Product
        fields = ("sku", "name", "currency", "price", "on_hand", "version")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            currency = self.instance.currency
            self.fields["price"].initial = to_major_units(self.instance.price_cents, currency)
            self.fields["price"].label = f"Price ({currency})"
            self.fields["price"].widget.attrs["step"] = str(
                Decimal(1).scaleb(-minor_digits(currency))
            )

    def clean(self) -> dict:
        """Turn the typed price into cents (refusing more decimals than the currency has), and
        refuse early what the compare-and-swap would refuse anyway, with the reason on the form."""
        data = super().clean()
        currency = self.instance.currency if self.instance.pk else data.get("currency")
        if data.get("price") is not None and currency:
            try:
                data["price_cents"] = to_minor_units(data["price"], currency)
            except ValueError as exc:
                self.add_error("price", str(exc))
        if self.instance.pk and data.get("version") != self.instance.version:
            raise forms.ValidationError(
                "This product was changed by someone else since you opened it; reload it."
            )
        if self.instance.pk and data.get("on_hand", 0) < self.instance.reserved:
            raise forms.ValidationError(
                f"{self.instance.reserved} units are reserved; on hand cannot go below that."
            )
        return data


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    form = ProductForm
    list_display = ("sku", "name", "price_display", "on_hand", "reserved", "available", "version")
    search_fields = ("sku", "name")
    list_filter = ("currency",)
    readonly_fields = ("reserved", "updated_at")
    inlines = (ReservationInline,)
    price_display = money_column("price_cents", description="Price", sort_by="price_cents")

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        """Unlike Django's default, no transaction around the whole view: the services called
        from save_model open their own durable transaction, as every entry service does."""
        return self._changeform_view(request, object_id, form_url, extra_context)

    def get_readonly_fields(
        self, request: HttpRequest, obj: Product | None = None
    ) -> tuple[str, ...]:
        return (*self.readonly_fields, "sku", "currency") if obj else self.readonly_fields

    def save_model(
        self, request: HttpRequest, obj: Product, form: forms.ModelForm, change: bool
    ) -> None:
        data = form.cleaned_data
        if not change:
            created = services.create_product(
                sku=data["sku"],
                name=data["name"],
                price_cents=data["price_cents"],
                on_hand=data["on_hand"],
                currency=data["currency"],
            )
            obj.pk = created.pk
            return
        try:
            services.update_product(
                sku=obj.sku,
                version=data.get("version") or form.initial.get("version"),
                name=data["name"],
                price_cents=data["price_cents"],
                on_hand=data["on_hand"],
            )
        except ConflictError:
            messages.error(
                request,
                f"{obj.sku} was changed by someone else (or stock went below what is reserved); "
                "nothing was saved. Reload and try again.",
            )


@admin.register(Reservation)
class ReservationAdmin(admin.ModelAdmin):
    list_display = ("id", "order", "product", "quantity", "status", "created_at")
    list_filter = ("status",)
    search_fields = ("product__sku", "order__public_id")
    list_select_related = ("product", "order")
    readonly_fields = ("order", "product", "quantity", "status", "created_at", "updated_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
