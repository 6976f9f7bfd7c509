-- Orders and revenue per customer: the table the Superset dashboard shows.
select
    customer_name,
    count(*) as orders,
    sum(amount) as revenue,
    max(ordered_at) as last_ordered_at
from {{ ref('stg_orders') }}
group by customer_name
