-- gold.conversion_funnel: sessions per day through page_view -> add_to_cart -> checkout -> purchase.
-- A strict funnel: a session counts at a step only if it also reached every step before it, so each
-- rate lies between 0 and 1.
with events as (
    select
        ev.dt,
        ev.session_id,
        ev.event_type
    from silver_events as ev
    where ev.dt between :start_dt and :end_dt
),

sessions as (
    select
        ev.dt,
        ev.session_id,
        max(ev.event_type = 'page_view') as viewed,
        max(ev.event_type = 'add_to_cart') as added_to_cart,
        max(ev.event_type = 'checkout') as checked_out,
        max(ev.event_type = 'purchase') as purchased
    from events as ev
    group by ev.dt, ev.session_id
),

steps as (
    select
        ss.dt,
        ss.session_id,
        ss.viewed as reached_view,
        ss.viewed and ss.added_to_cart as reached_cart,
        ss.viewed and ss.added_to_cart and ss.checked_out as reached_checkout,
        ss.viewed and ss.added_to_cart and ss.checked_out and ss.purchased as reached_purchase
    from sessions as ss
),

daily as (
    select
        st.dt,
        count(*) as sessions,
        count_if(st.reached_view) as views,
        count_if(st.reached_cart) as add_to_cart,
        count_if(st.reached_checkout) as checkout,
        count_if(st.reached_purchase) as purchase
    from steps as st
    group by st.dt
)

select
    dl.dt as dt,
    dl.sessions as sessions,
    dl.views as views,
    dl.add_to_cart as add_to_cart,
    dl.checkout as checkout,
    dl.purchase as purchase,
    cast(round(try_divide(dl.add_to_cart, dl.views), 4) as double) as view_to_cart_rate,
    cast(round(try_divide(dl.checkout, dl.add_to_cart), 4) as double) as cart_to_checkout_rate,
    cast(round(try_divide(dl.purchase, dl.checkout), 4) as double) as checkout_to_purchase_rate,
    cast(round(try_divide(dl.purchase, dl.views), 4) as double) as conversion_rate
from daily as dl
