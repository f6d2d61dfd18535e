"""A local Amazon Pay API v2 server for offline use and tests.

It speaks the same paths and verifies the same signatures as Amazon, models the Charge
Permission, Charge and Refund state machines (amazonpay-api.md §2–§4), and also plays the
other parties: the buyer at checkout and fixing their payment settings, and the operator in
Seller Central (R31, R32, R38). Its state lives in its own SQLite file and reads an
injectable clock.
"""
