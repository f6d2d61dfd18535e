"""Messages to customers (R41–R51): templates, the values they are filled with, and mail delivery.

Kept free of heavy imports so that ``core.queries`` can use :mod:`core.messages.status`
without loading Jinja2 or smtplib. The use cases live in :mod:`core.services.messages`.
"""
