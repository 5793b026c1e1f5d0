"""Fakes of further vendors, one module each, plugged into ``tests/fake_vendor.FakeVendor``.

Each module defines a ``fake_vendor.VendorFake`` subclass decorated with
``fake_vendor.register_fake``; ``fake_vendor`` imports every module here.
"""
