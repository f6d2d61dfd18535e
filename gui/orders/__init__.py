"""The order list, its badges, the detail panel and the actions on orders."""
