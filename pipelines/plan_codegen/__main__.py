"""`python -m pipelines.plan_codegen`: regenerate the checked-in output under `tracking/`."""

from pipelines import tracking_plan
from pipelines.plan_codegen import write_examples

for path in write_examples(tracking_plan.load()):
    print(f"wrote {path.relative_to(tracking_plan.PROJECT_ROOT)}")
