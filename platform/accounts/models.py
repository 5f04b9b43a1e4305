"""User accounts.

The table exists in every schema: in ``public`` it holds the vendor's operators (who sign in
to the operator admin on the public host), in each city's schema that city's staff. A city's
staff therefore exist only in its schema, and an operator account cannot sign in on a city's
host, nor a city's staff on the public host.
"""

from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    display_name = models.CharField("表示名", max_length=150, blank=True)
    # The city's own administrator (in a city schema); roles per department come with
    # memberships. Meaningless in the public schema, where operators use is_staff.
    is_city_admin = models.BooleanField("自治体管理者", default=False)

    class Meta(AbstractUser.Meta):
        verbose_name = "利用者"
        verbose_name_plural = "利用者"

    def __str__(self) -> str:
        return self.display_name or self.username
