"""Passwords in connection strings never reach the terminal (contract §3)."""

from pipelines.masking import mask_urls


def test_the_password_of_a_url_is_replaced_and_the_rest_kept():
    text = "cannot connect to postgresql://bob:s3cretPW@127.0.0.1:1/nowhere: refused"
    assert mask_urls(text) == "cannot connect to postgresql://bob:***@127.0.0.1:1/nowhere: refused"


def test_urls_without_a_password_are_unchanged():
    assert mask_urls("postgresql://postgres@127.0.0.1:5432/db") == (
        "postgresql://postgres@127.0.0.1:5432/db"
    )


def test_every_url_of_a_text_is_masked_even_a_password_holding_an_at_sign():
    text = "postgresql://u:pa@ss@h/db then s3://key:secret@bucket/prefix"
    assert mask_urls(text) == "postgresql://u:***@h/db then s3://key:***@bucket/prefix"
