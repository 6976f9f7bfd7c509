"""Plans: the immutable description of what apply will do (``model``), how it is built from
desired resources and state (``builder``), saved and checked (``saved``), and rendered
(``render_text``, ``render_json``). Building and applying live apart (``stackform.apply``)."""
