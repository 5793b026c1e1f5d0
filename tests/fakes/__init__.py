"""One kit per vendor for the loopback fakes, one module each (``tests/fakes/<vendor>.py``).

An SMS vendor's module holds its ``fake_vendor.VendorFake`` (decorated with ``fake_vendor.register_fake``):
request parsing, signature checks, replies, errors, per-vendor state, its receipt push format and query APIs,
and the facts the vendor matrix checks (``send_facts``). A vendor's other products sit next to it
(``aliyun_voice.py``, ``aliyun_pnvs.py``, ``tencent_voice.py``, ``ronglian_voice.py``, ``volcengine_verify.py``),
and its human check, when it sells one, is a ``fake_captcha.CaptchaCheck`` in its module (Tencent, Aliyun) or
in a module of its own (``turnstile.py``, ``geetest.py``). ``fake_vendor`` imports every module here.
"""
