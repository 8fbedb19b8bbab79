"""Layers point one way: staging and intermediate models never read a mart (dbt's manifest
says what each model reads, refs made inside macros and `-- depends_on:` hints included)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.transform import dbt
from pipelines.warehouse import Connection

LOWER_LAYERS = ("staging", "intermediate")

# `dbt parse` opens no connection: any address will do.
NO_DATABASE = Connection.from_url("postgresql://parse@127.0.0.1:1/parse")


def layer(node: dict) -> str:
    """The folder of `models/` a model lives in: staging, intermediate or marts."""
    return node["fqn"][1]


def lower_layer_models_reading_marts(manifest: dict) -> list[str]:
    """`model <- mart` for every staging or intermediate model that depends on a mart."""
    nodes = manifest["nodes"]
    models = {key: node for key, node in nodes.items() if node["resource_type"] == "model"}
    return sorted(
        f"{node['name']} <- {models[parent]['name']}"
        for node in models.values()
        if layer(node) in LOWER_LAYERS
        for parent in node["depends_on"]["nodes"]
        if parent in models and layer(models[parent]) == "marts"
    )


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> dict:
    target_path = tmp_path_factory.mktemp("target")
    assert dbt(["parse", "--quiet", "--target-path", str(target_path)], NO_DATABASE) == 0
    return json.loads((target_path / "manifest.json").read_text())


def test_no_staging_or_intermediate_model_reads_a_mart(manifest: dict):
    assert lower_layer_models_reading_marts(manifest) == []


def test_every_model_lives_in_a_known_layer(manifest: dict):
    layers = {
        layer(node) for node in manifest["nodes"].values() if node["resource_type"] == "model"
    }

    assert layers == {"staging", "intermediate", "marts"}


def model_node(name: str, folder: str, parents: list[str]) -> tuple[str, dict]:
    key = f"model.product_analytics.{name}"
    node = {
        "name": name,
        "resource_type": "model",
        "fqn": ["product_analytics", folder, name],
        "depends_on": {"nodes": parents},
    }
    return key, node


def test_the_check_names_an_intermediate_model_that_reads_a_mart():
    nodes = dict(
        [
            model_node("stg_a", "staging", ["source.product_analytics.raw.a"]),
            model_node("fct_a", "marts", ["model.product_analytics.stg_a"]),
            model_node("int_a_joined", "intermediate", ["model.product_analytics.fct_a"]),
            model_node("rpt_a", "marts", ["model.product_analytics.fct_a"]),
        ]
    )

    assert lower_layer_models_reading_marts({"nodes": nodes}) == ["int_a_joined <- fct_a"]


def test_refs_made_inside_macros_count_as_dependencies(manifest: dict):
    # int_funnel_events_matched_to_steps reads its events through `funnel_entity_events`.
    funnel_events = manifest["nodes"]["model.product_analytics.int_funnel_events_matched_to_steps"]

    assert Path(funnel_events["original_file_path"]).parts[:2] == ("models", "intermediate")
    assert (
        "model.product_analytics.int_events_stitched_to_users"
        in (funnel_events["depends_on"]["nodes"])
    )
