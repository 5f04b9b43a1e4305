from django.apps import AppConfig


class TemplateMarketConfig(AppConfig):
    name = "template_market"
    verbose_name = "テンプレート"
