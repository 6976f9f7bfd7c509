"""Plans: the immutable description of what apply will do (``model``), how it is built from
desired resources and state (``builder``), saved and checked (``saved``), rendered
(``render_text``, ``render_json``, ``render_markdown``), and carried out (``apply``, on the
dependency walk of ``walk``). Nothing is imported here, so that building a plan does not load
apply."""
