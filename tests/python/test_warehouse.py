from pipelines.warehouse import Connection


def test_url_without_password_keeps_an_empty_password():
    connection = Connection.from_url("postgresql://postgres@127.0.0.1:5432/analytics")

    assert connection.password == ""
    assert connection.url() == "postgresql://postgres@127.0.0.1:5432/analytics"


def test_url_round_trips_special_characters_in_credentials():
    url = "postgresql://ana%40lytics:p%3Ass%2Fword@db.internal:6543/warehouse"

    connection = Connection.from_url(url)

    assert (connection.user, connection.password) == ("ana@lytics", "p:ss/word")
    assert (connection.host, connection.port, connection.database) == (
        "db.internal",
        6543,
        "warehouse",
    )
    assert connection.url() == url


def test_dlt_accepts_credentials_without_a_password():
    credentials = Connection.from_url(
        "postgresql://postgres@127.0.0.1:5432/analytics"
    ).dlt_credentials()

    assert credentials.is_resolved()
    assert credentials.password == ""


def test_dbt_environment_carries_every_profile_setting():
    connection = Connection.from_url("postgresql://reader:secret@10.0.0.5:5433/analytics")

    assert connection.dbt_environment() == {
        "ANALYTICS_PGHOST": "10.0.0.5",
        "ANALYTICS_PGPORT": "5433",
        "ANALYTICS_PGUSER": "reader",
        "ANALYTICS_PGPASSWORD": "secret",
        "ANALYTICS_PGDATABASE": "analytics",
    }
