"""One small table in every tenant schema; bench/migrations.py adds a column to it."""

from django.db import models


class Note(models.Model):
    title = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.title
