-- gold.billing_daily_revenue: one row per day (UTC), in USD (silver keeps USD rows only).
-- invoiced: invoices created on the day except draft and void; collected / refunded: succeeded payments /
-- refunds created on the day; active_subscriptions: non-trial subscriptions started by the end of the day and
-- not canceled by then (from the day's snapshot, judged by timestamps, so re-running a past day gives the
-- same answer); mrr: the sum of their monthly amounts (yearly plans / 12), rounded to cents once, at the end.
with days as (
    select cast(d.day as string) as dt
    from (select explode(sequence(to_date(:start_dt), to_date(:end_dt), interval 1 day)) as day) as d
),

invoiced as (
    select
        inv.dt,
        sum(inv.amount) as invoiced
    from silver_billing_invoices as inv
    where inv.dt between :start_dt and :end_dt
        and inv.status not in ('draft', 'void')
    group by inv.dt
),

money as (
    select
        trx.dt,
        sum(case when trx.kind = 'payment' then trx.amount end) as collected,
        sum(case when trx.kind = 'refund' then trx.amount end) as refunded
    from silver_billing_transactions as trx
    where trx.dt between :start_dt and :end_dt
        and trx.status = 'succeeded'
    group by trx.dt
),

active as (
    select
        sub.dt,
        count(*) as active_subscriptions,
        sum(sub.monthly_amount) as mrr
    from silver_billing_subscriptions as sub
    where sub.dt between :start_dt and :end_dt
        and sub.status <> 'trialing'
        and sub.started_at < cast(date_add(to_date(sub.dt), 1) as timestamp)
        and (sub.canceled_at is null or sub.canceled_at >= cast(date_add(to_date(sub.dt), 1) as timestamp))
    group by sub.dt
)

select
    d.dt as dt,
    cast(coalesce(i.invoiced, 0) as decimal(18, 2)) as invoiced_usd,
    cast(coalesce(m.collected, 0) as decimal(18, 2)) as collected_usd,
    cast(coalesce(m.refunded, 0) as decimal(18, 2)) as refunded_usd,
    coalesce(a.active_subscriptions, cast(0 as bigint)) as active_subscriptions,
    cast(round(coalesce(a.mrr, 0), 2) as decimal(18, 2)) as mrr_usd
from days as d
left join invoiced as i on i.dt = d.dt
left join money as m on m.dt = d.dt
left join active as a on a.dt = d.dt
