//! Prometheus metrics.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

/// The server's metrics, in their own registry.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// Requests by method, route pattern and status.
    pub requests: IntCounterVec,
    /// Latency by method and route pattern.
    pub latency: HistogramVec,
    /// Booking outcomes: created, conflict, replayed, rate_limited.
    pub bookings: IntCounterVec,
    /// Webhook attempts by outcome: succeeded, retrying, failed.
    pub webhook_deliveries: IntCounterVec,
    /// Webhook attempt latency.
    pub webhook_attempt_latency: Histogram,
    /// Webhook deliveries waiting for enabled endpoints.
    pub webhook_queue_depth: IntGauge,
    /// Bookings completed automatically.
    pub auto_completed: prometheus::IntCounter,
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by method, route and status",
            ),
            &["method", "route", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency").buckets(
                vec![
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                ],
            ),
            &["method", "route"],
        )?;
        let bookings = IntCounterVec::new(
            Opts::new("booking_requests_total", "Booking creation outcomes"),
            &["outcome"],
        )?;
        let webhook_deliveries = IntCounterVec::new(
            Opts::new(
                "webhook_deliveries_total",
                "Webhook delivery attempts by outcome (succeeded, retrying, failed)",
            ),
            &["outcome"],
        )?;
        let webhook_attempt_latency = Histogram::with_opts(
            HistogramOpts::new(
                "webhook_attempt_duration_seconds",
                "Webhook delivery attempt latency",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
        )?;
        let webhook_queue_depth = IntGauge::new(
            "webhook_queue_depth",
            "Webhook deliveries pending for enabled endpoints",
        )?;
        let auto_completed = prometheus::IntCounter::new(
            "bookings_auto_completed_total",
            "Confirmed bookings completed automatically after their end",
        )?;
        registry.register(Box::new(webhook_deliveries.clone()))?;
        registry.register(Box::new(webhook_attempt_latency.clone()))?;
        registry.register(Box::new(webhook_queue_depth.clone()))?;
        registry.register(Box::new(auto_completed.clone()))?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(bookings.clone()))?;
        Ok(Metrics {
            registry,
            requests,
            latency,
            bookings,
            webhook_deliveries,
            webhook_attempt_latency,
            webhook_queue_depth,
            auto_completed,
        })
    }

    /// The text exposition format.
    pub fn render(&self) -> Result<String, prometheus::Error> {
        let mut buf = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buf)?;
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }
}
