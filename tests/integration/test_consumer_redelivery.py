"""The server never drops a message after N deliveries: the consumer decides, and always dead-letters."""

from __future__ import annotations

from nats.js.api import AckPolicy, ConsumerConfig

from services.runtime.bus import Bus
from services.runtime.consumer import ConsumerSpec, Envelope, PullConsumer, subject_parser


async def _noop(_envelopes: list[Envelope]) -> None:
    return None


async def test_durables_have_no_server_side_delivery_limit_even_if_an_older_version_made_them(bus: Bus) -> None:
    s = bus.subjects
    await bus.js.add_consumer(s.events_stream, ConsumerConfig(
        durable_name="old", ack_policy=AckPolicy.EXPLICIT, max_deliver=6, filter_subject=s.all_events))
    for durable in ("old", "new"):
        spec = ConsumerSpec(service="t", durable=durable, stream=s.events_stream, filter_subjects=[s.all_events],
                            parse=subject_parser(bus), handler=_noop)
        await PullConsumer(bus, spec).ensure()
        info = await bus.js.consumer_info(s.events_stream, durable)
        assert info.config.max_deliver == -1, durable


async def test_a_handler_slower_than_ack_wait_keeps_its_batch_and_sees_it_once(bus: Bus) -> None:
    """A short ack_wait returns a dead consumer's messages soon; a live, slow handler is not redelivered."""
    import asyncio

    from factories import campaign_spec, created

    s = bus.subjects
    seen: list[str] = []

    async def slow(envelopes: list[Envelope]) -> None:
        seen.extend(e.msg_id for e in envelopes)
        await asyncio.sleep(2.5)  # > ack_wait: only the in-progress beats keep the server from redelivering

    spec = ConsumerSpec(service="t", durable="slow", stream=s.events_stream, filter_subjects=[s.all_events],
                        parse=subject_parser(bus), handler=slow, ack_wait_s=1.0, fetch_timeout_s=0.2)
    consumer = PullConsumer(bus, spec)
    await consumer.ensure()
    info = await bus.js.consumer_info(s.events_stream, "slow")
    assert info.config.ack_wait == 1.0
    event = created(campaign_spec("c-slow"))
    await bus.publish_event(event)
    task = asyncio.create_task(consumer.run())
    for _ in range(100):
        if spec.stats["handled"]:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.5)  # a redelivery would have come by now
    await consumer.stop(1.0)
    await task
    assert seen == [event.id]
    info = await bus.js.consumer_info(s.events_stream, "slow")
    assert info.num_redelivered == 0 and info.num_ack_pending == 0
