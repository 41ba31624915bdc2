//! The event bus: what is published reaches subscribers on every instance
//! sharing the database; what a rolled-back transaction staged reaches no one.

use std::time::Duration;

use scoped_futures::ScopedFutureExt as _;
use serde_json::json;
use tasklane::error::AppError;
use tasklane::events::{self, Delivery, Event, EventBus, Outbox, Subscription};

use crate::on_both_backends;
use crate::support::{Backend, TestApp};

on_both_backends!(events_reach_subscribers_and_only_when_committed);

fn bus(app: &TestApp) -> &EventBus {
    &app.server.as_ref().expect("running").state.services.events
}

/// The next event, skipping resync notices; `None` after 1 s of silence.
async fn next_event(subscription: &mut Subscription) -> Option<Event> {
    loop {
        match tokio::time::timeout(Duration::from_secs(1), subscription.recv()).await {
            Ok(Some(Delivery::Event(event))) => return Some((*event).clone()),
            Ok(Some(Delivery::Resync)) => {}
            Ok(None) | Err(_) => return None,
        }
    }
}

async fn events_reach_subscribers_and_only_when_committed(app: TestApp) {
    let mut here = bus(&app).subscribe("test.topic");
    let mut elsewhere_topic = bus(&app).subscribe("other.topic");
    bus(&app)
        .publish("test.topic", json!({ "n": 1 }))
        .await
        .expect("published");
    let event = next_event(&mut here).await.expect("delivered");
    assert_eq!(
        (event.topic.as_str(), event.payload.clone()),
        ("test.topic", json!({ "n": 1 }))
    );

    // Staged in a transaction that fails: never delivered.
    let db = app.database().clone();
    let bus_ref = bus(&app).clone();
    let failed = db
        .transaction(|mut conn| {
            async move {
                let mut outbox = Outbox::default();
                let event = Event::new("test.topic", json!({ "n": 2 }))?;
                events::stage(&mut conn, &mut outbox, event).await?;
                drop(outbox);
                Err::<(), _>(AppError::internal("roll back"))
            }
            .scope_boxed()
        })
        .await;
    assert!(failed.is_err());
    // Staged in one that commits: delivered after the commit.
    let outbox = db
        .transaction(|mut conn| {
            async move {
                let mut outbox = Outbox::default();
                let event = Event::new("test.topic", json!({ "n": 3 }))?;
                events::stage(&mut conn, &mut outbox, event).await?;
                Ok(outbox)
            }
            .scope_boxed()
        })
        .await
        .expect("committed");
    bus_ref.flush(outbox);
    let event = next_event(&mut here).await.expect("the committed event");
    assert_eq!(
        event.payload,
        json!({ "n": 3 }),
        "the rolled-back one never came"
    );
    assert!(
        next_event(&mut elsewhere_topic).await.is_none(),
        "other topics hear nothing"
    );

    if app.db.backend == Backend::Postgres {
        // Another instance on the same database hears it too.
        let mut config =
            tasklane::config::Config::with_database(&app.db.url, Some(crate::support::TEST_SECRET))
                .expect("config");
        config.listen = "127.0.0.1:0".parse().expect("addr");
        let second = tasklane::start(config).await.expect("second instance");
        let mut there = second.state.services.events.subscribe("test.topic");
        bus(&app)
            .publish("test.topic", json!({ "n": 4 }))
            .await
            .expect("published");
        let event = next_event(&mut there)
            .await
            .expect("delivered to the other instance");
        assert_eq!(event.payload, json!({ "n": 4 }));
    }
}
