"""Catalog and stock in the admin. Edits go through inventory.services with the version the
form was loaded with, so two staff editing one product never overwrite each other."""

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest

from ordersite.errors import ConflictError

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
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Product
        fields = ("sku", "name", "price_cents", "currency", "on_hand", "version")

    def clean(self) -> dict:
        """Refuse early what the compare-and-swap would refuse anyway, with the reason on the form."""
        data = super().clean()
        if self.instance.pk and data.get("version") != self.instance.version:
            raise forms.ValidationError("This product was changed by someone else since you opened it; reload it.")
        if self.instance.pk and data.get("on_hand", 0) < self.instance.reserved:
            raise forms.ValidationError(f"{self.instance.reserved} units are reserved; on hand cannot go below that.")
        return data


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    form = ProductForm
    list_display = ("sku", "name", "price_cents", "currency", "on_hand", "reserved", "available", "version")
    search_fields = ("sku", "name")
    list_filter = ("currency",)
    readonly_fields = ("reserved", "updated_at")
    inlines = (ReservationInline,)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        """Unlike Django's default, no transaction around the whole view: the services called
        from save_model open their own durable transaction, as every entry service does."""
        return self._changeform_view(request, object_id, form_url, extra_context)

    def get_readonly_fields(self, request: HttpRequest, obj: Product | None = None) -> tuple[str, ...]:
        return (*self.readonly_fields, "sku", "currency") if obj else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: Product, form: forms.ModelForm, change: bool) -> None:
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
