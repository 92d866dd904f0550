from django.db import models


class Ran(models.Model):
    """One run of a task: which word, on which host and release."""
    word = models.CharField(max_length=100)
    host = models.CharField(max_length=100)
    release = models.CharField(max_length=100)
