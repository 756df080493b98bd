"""config.yml builds valid training and prediction graphs: the checks
`rasa train` runs before it starts, without training anything."""
import pytest
import rasa.engine.validation
import rasa.shared.utils.io
from rasa.engine.recipes.recipe import Recipe
from rasa.engine.graph import GraphModelConfiguration
from rasa.shared.data import TrainingType

from tests.conftest import PROJECT_ROOT


@pytest.fixture(scope="module")
def model_configuration() -> GraphModelConfiguration:
    config = rasa.shared.utils.io.read_config_file(PROJECT_ROOT / "config.yml")
    recipe = Recipe.recipe_for_name(config.get("recipe"))
    return recipe.graph_config_for_recipe(config, {}, training_type=TrainingType.BOTH)


def test_training_and_prediction_graphs_are_valid(model_configuration):
    # raises GraphSchemaValidationException, e.g. when a component requires
    # one that does not run before it in the training graph
    assert rasa.engine.validation.validate(model_configuration) is None


def test_llm_router_runs_after_the_intent_classifier(model_configuration):
    nodes = model_configuration.predict_schema.nodes
    order = [name for name in nodes if name.startswith("run_")]
    router = next(name for name in order if "LLMRouter" in name)
    diet = next(name for name in order if "DIETClassifier" in name)
    # the router reads the classifier's intent and ranking
    assert diet in _ancestors(nodes, router)


def _ancestors(nodes, name):
    seen, todo = set(), [name]
    while todo:
        for parent in nodes[todo.pop()].needs.values():
            if parent in nodes and parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return seen
