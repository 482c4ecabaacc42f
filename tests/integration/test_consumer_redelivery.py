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
