-- Orders and revenue per day of their last update.
select
    cast(updated_at as date) as day,
    count(*) as orders,
    sum(amount) as revenue
from {{ ref('stg_orders') }}
group by 1
