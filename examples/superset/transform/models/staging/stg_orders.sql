-- One row per order, as loaded by the pipeline: renamed and typed, deleted rows left out.
select
    cast(id as integer) as order_id,
    customer as customer_name,
    cast(amount as numeric(12, 2)) as amount,
    status,
    cast(ordered_at as timestamp) as ordered_at
from {{ source('landed', 'orders') }}
where _sdc_deleted_at is null
