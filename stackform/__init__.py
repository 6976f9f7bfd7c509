"""stackform: Terraform-style plan/apply for whole data stacks.

The core package holds the engine (stack file loading, graph, state, plan, apply) and the CLI.
It never imports a provider by name: providers are found through the ``stackform.providers``
entry-point group.
"""

__version__ = "0.1.0"
