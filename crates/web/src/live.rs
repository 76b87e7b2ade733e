//! Talking to mail servers for the app: retrieval runs, subscriptions and connection tests
//! over a [`Connector`], behind an object-safe trait so the app is not generic.

use std::sync::{Arc, OnceLock, Weak};

use futures::future::BoxFuture;
use inbound_retrieve::{
    Account, Connector, Events, ImapSession as _, MailProtocol, Pop3Session as _, Report,
    Retriever, SubscriptionState, Subscriptions,
};
use serde::Serialize;

use crate::state::AppState;

/// One step of a connection test and how it went.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TestStep {
    /// `credentials`, `connect, TLS and login`, `select`.
    pub step: &'static str,
    /// True when it succeeded.
    pub ok: bool,
    /// What happened.
    pub detail: String,
}

/// What the app asks of the mail side.
pub(crate) trait Live: Send + Sync + 'static {
    /// Retrieves `account`'s mail, telling `events` how it goes.
    fn run(
        &self,
        account: Account,
        events: Box<dyn Events>,
    ) -> BoxFuture<'static, inbound_retrieve::Result<Report>>;

    /// Subscribes to `account`: states go to the app's status.
    fn subscribe(&self, account: Account) -> Result<(), String>;

    /// Ends `account`'s subscription; false when there was none.
    fn unsubscribe(&self, account: String) -> BoxFuture<'static, bool>;

    /// True when `account` has a running subscription.
    fn is_subscribed(&self, account: &str) -> bool;

    /// Connects, secures, logs in and selects the folder; each step's result.
    fn test(&self, account: Account) -> BoxFuture<'static, Vec<TestStep>>;

    /// Ends every subscription.
    fn stop_all(&self) -> BoxFuture<'static, ()>;
}

/// [`Live`] over a connector.
pub(crate) struct LiveConnector<C> {
    app: Arc<OnceLock<Weak<AppState>>>,
    retriever: Retriever<C>,
    subscriptions: Arc<Subscriptions<C>>,
    connector: C,
}

impl<C: Connector + Clone> LiveConnector<C> {
    /// Runs over `connector`, storing into `store`; subscription states reach the app set in
    /// `app` once it exists.
    pub(crate) fn new(
        store: inbound_retrieve::SharedStore,
        connector: C,
        app: Arc<OnceLock<Weak<AppState>>>,
    ) -> Self {
        let retriever = Retriever::new(store, connector.clone());
        let states = app.clone();
        let subscriptions = Subscriptions::new(retriever.clone()).on_state(move |name, state| {
            if let Some(app) = states.get().and_then(Weak::upgrade) {
                app.update(name, "state", |s| {
                    s.state = state_name(state).to_owned();
                    s.last_event = Some(state.to_string());
                    match state {
                        SubscriptionState::ConnectionLost { error }
                        | SubscriptionState::RetryExhausted { error }
                        | SubscriptionState::Failed { error } => {
                            s.last_error = Some(error.clone());
                        }
                        _ => {}
                    }
                });
            }
        });
        LiveConnector {
            app,
            retriever,
            subscriptions: Arc::new(subscriptions),
            connector,
        }
    }
}

/// The overview's name for a subscription state: `idle` (subscribed, waiting for mail),
/// `reconnecting`, `lost`, `failed`, `off`.
fn state_name(state: &SubscriptionState) -> &'static str {
    match state {
        SubscriptionState::Subscribed
        | SubscriptionState::Reconnected
        | SubscriptionState::Resumed { .. } => "idle",
        SubscriptionState::ConnectionLost { .. } => "lost",
        SubscriptionState::Reconnecting { .. } | SubscriptionState::Throttled { .. } => {
            "reconnecting"
        }
        SubscriptionState::RetryExhausted { .. } | SubscriptionState::Failed { .. } => "failed",
        _ => "off",
    }
}

impl<C: Connector + Clone> Live for LiveConnector<C> {
    fn run(
        &self,
        account: Account,
        mut events: Box<dyn Events>,
    ) -> BoxFuture<'static, inbound_retrieve::Result<Report>> {
        let retriever = self.retriever.clone();
        Box::pin(async move {
            let mut events: &mut dyn Events = &mut *events;
            retriever.retrieve_with_events(&account, &mut events).await
        })
    }

    fn subscribe(&self, account: Account) -> Result<(), String> {
        let app = self.app.clone();
        let name = account.name.clone();
        self.subscriptions
            .subscribe(account, move |m| {
                if let Some(app) = app.get().and_then(Weak::upgrade) {
                    let subject = m.email.subject.clone().unwrap_or_default();
                    app.update(&name, "message", |s| {
                        s.last_event = Some(format!("new message: {subject}"));
                    });
                }
            })
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn unsubscribe(&self, account: String) -> BoxFuture<'static, bool> {
        let subscriptions = self.subscriptions.clone();
        Box::pin(async move { subscriptions.unsubscribe(&account).await })
    }

    fn is_subscribed(&self, account: &str) -> bool {
        self.subscriptions.is_active(account)
    }

    fn test(&self, account: Account) -> BoxFuture<'static, Vec<TestStep>> {
        let retriever = self.retriever.clone();
        let connector = self.connector.clone();
        Box::pin(async move {
            let mut steps = Vec::new();
            let credentials = match retriever.load_credentials(&account).await {
                Ok(c) => {
                    steps.push(TestStep {
                        step: "credentials",
                        ok: true,
                        detail: "resolved".to_owned(),
                    });
                    c
                }
                Err(e) => {
                    steps.push(TestStep {
                        step: "credentials",
                        ok: false,
                        detail: e.to_string(),
                    });
                    return steps;
                }
            };
            let login = "connect, TLS and login";
            match account.protocol {
                MailProtocol::Imap => match connector.connect_imap(&account, &credentials).await {
                    Ok(mut session) => {
                        steps.push(TestStep {
                            step: login,
                            ok: true,
                            detail: format!(
                                "{}:{} ({:?})",
                                account.host, account.port, account.security
                            ),
                        });
                        let selected = session.select(&account.folder).await;
                        steps.push(match selected {
                            Ok(status) => TestStep {
                                step: "select",
                                ok: true,
                                detail: format!(
                                    "{}: {} message(s), UIDVALIDITY {}",
                                    account.folder, status.exists, status.uidvalidity
                                ),
                            },
                            Err(e) => TestStep {
                                step: "select",
                                ok: false,
                                detail: e.to_string(),
                            },
                        });
                        let _ = session.logout().await;
                    }
                    Err(e) => steps.push(TestStep {
                        step: login,
                        ok: false,
                        detail: e.to_string(),
                    }),
                },
                MailProtocol::Pop3 => match connector.connect_pop3(&account, &credentials).await {
                    Ok(mut session) => {
                        steps.push(TestStep {
                            step: login,
                            ok: true,
                            detail: format!(
                                "{}:{} ({:?})",
                                account.host, account.port, account.security
                            ),
                        });
                        steps.push(match session.list().await {
                            Ok(list) => TestStep {
                                step: "list",
                                ok: true,
                                detail: format!("{} message(s)", list.len()),
                            },
                            Err(e) => TestStep {
                                step: "list",
                                ok: false,
                                detail: e.to_string(),
                            },
                        });
                        let _ = session.quit().await;
                    }
                    Err(e) => steps.push(TestStep {
                        step: login,
                        ok: false,
                        detail: e.to_string(),
                    }),
                },
            }
            steps
        })
    }

    fn stop_all(&self) -> BoxFuture<'static, ()> {
        let subscriptions = self.subscriptions.clone();
        Box::pin(async move { subscriptions.unsubscribe_all().await })
    }
}
