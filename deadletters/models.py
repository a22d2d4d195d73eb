"""The dead-letter queue's place in the admin: a model without a table, for its permission."""

from django.db import models

# What staff need to see the admin page, the staff API and the index count.
PERMISSION = "deadletters.review_dead_letters"


class DeadLetter(models.Model):
    """No table: the dead letters live in Redis (deadletters/store.py). This model only carries the
    admin page's place in the index, its permission and the admin log's content type."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("review_dead_letters", "Can review, replay and discard dead letters")]
        verbose_name = "dead letter"
        verbose_name_plural = "dead letters"

    def __str__(self) -> str:
        return "dead letter"
