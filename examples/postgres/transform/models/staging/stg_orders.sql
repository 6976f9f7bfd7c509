-- One row per order replicated from MariaDB; rows the loader marked deleted left out.
select
    id as order_id,
    amount,
    updated_at
from {{ source('mariadb', 'orders') }}
where _sdc_deleted_at is null
