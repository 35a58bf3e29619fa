"""The README's two-minute walkthrough, through the generated client only.

Creates the example service, lists a week of availability, books 10:00 New
York time, books the same time again and reads BOOKING_CONFLICT with
`next_available` from the client's typed error model, then confirms,
reschedules and cancels. The day is a weekday a few days from today, so
the test never expires.
"""

import datetime as dt
from http import HTTPStatus
from zoneinfo import ZoneInfo

from booking_api_client.api.availability import get_service_availability
from booking_api_client.api.bookings import (
    cancel_booking,
    confirm_booking,
    create_booking,
    get_booking,
    reschedule_booking,
)
from booking_api_client.api.services import create_service, get_service
from booking_api_client.models import (
    AvailabilityDto,
    AvailabilityOut,
    BookingOut,
    CancelBooking,
    CreateBooking,
    CreateService,
    CustomerDto,
    DayName,
    ErrorBody,
    HoursDto,
    PriceDto,
    PriceKind,
    RescheduleBooking,
    ServiceOut,
)

NEW_YORK = ZoneInfo("America/New_York")


def utc(day: dt.date, hour: int) -> str:
    """`hour`:00 New York time on `day`, as the API writes instants."""
    local = dt.datetime.combine(day, dt.time(hour), tzinfo=NEW_YORK)
    return local.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def instant(day: dt.date, hour: int) -> dt.datetime:
    """`hour`:00 New York time on `day`, as the client reads instants
    (`format: date-time` in the OpenAPI document): an aware datetime."""
    return dt.datetime.combine(day, dt.time(hour), tzinfo=NEW_YORK).astimezone(dt.timezone.utc)


def a_weekday_ahead() -> dt.date:
    """A Monday-to-Friday at least four days after today in New York."""
    day = dt.datetime.now(NEW_YORK).date() + dt.timedelta(days=4)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def test_readme_walkthrough(client):
    # 2. The example service: one hour, $150/hour, weekdays 09:00-17:00 New York time.
    created = create_service.sync_detailed(
        client=client,
        body=CreateService(
            id="srv_consultation",
            name="1-Hour Consultation",
            description="Expert guidance on your project",
            duration=60,
            price=PriceDto(amount=150, currency="USD", type_=PriceKind.HOURLY),
            availability=AvailabilityDto(
                days=[DayName.MONDAY, DayName.TUESDAY, DayName.WEDNESDAY, DayName.THURSDAY, DayName.FRIDAY],
                hours=HoursDto(start="09:00", end="17:00"),
                timezone="America/New_York",
            ),
        ),
    )
    assert created.status_code == HTTPStatus.CREATED, created.content
    service = created.parsed
    assert isinstance(service, ServiceOut)
    assert service.id == "srv_consultation"
    assert service.price.type_ is PriceKind.HOURLY
    fetched = get_service.sync(id=service.id, client=client)
    assert isinstance(fetched, ServiceOut) and fetched.name == "1-Hour Consultation"

    # 3. Free slots for a week (local days in the service's zone).
    day = a_weekday_ahead()
    week = get_service_availability.sync_detailed(
        id=service.id,
        client=client,
        from_=day.isoformat(),
        to=(day + dt.timedelta(days=6)).isoformat(),
    )
    assert week.status_code == HTTPStatus.OK, week.content
    availability = week.parsed
    assert isinstance(availability, AvailabilityOut)
    assert availability.timezone == "America/New_York"
    starts = [slot.start for slot in availability.slots]
    assert starts[:2] == [instant(day, 9), instant(day, 10)], starts
    assert len(starts) == 5 * 8, starts  # five weekdays of eight hours

    # 4. Book 10:00 New York time.
    ten = utc(day, 10)
    booked = create_booking.sync_detailed(
        client=client,
        idempotency_key="first-booking",
        body=CreateBooking(
            service=service.id,
            scheduled_at=ten,
            customer=CustomerDto(email="customer@example.com", name="John Doe"),
        ),
    )
    assert booked.status_code == HTTPStatus.CREATED, booked.content
    booking = booked.parsed
    assert isinstance(booking, BookingOut)
    assert (booking.status, booking.scheduled_at, booking.end_at) == ("pending", instant(day, 10), instant(day, 11))
    assert (booking.price.amount, booking.price.currency) == (150, "USD")
    assert booking.customer.name == "John Doe"

    # 5. The same time again: 409 BOOKING_CONFLICT with the next free slot,
    #    read through the typed error model.
    conflict = create_booking.sync_detailed(
        client=client,
        body=CreateBooking(
            service=service.id,
            scheduled_at=ten,
            customer=CustomerDto(email="other@example.com", name="Jane Roe"),
        ),
    )
    assert conflict.status_code == HTTPStatus.CONFLICT, conflict.content
    error = conflict.parsed
    assert isinstance(error, ErrorBody)
    assert error.error.code == "BOOKING_CONFLICT"
    assert error.error.details.requested_time == instant(day, 10)
    assert error.error.details.next_available == instant(day, 11)

    # Then confirm it, move it to 13:00, and cancel it.
    confirmed = confirm_booking.sync(id=booking.id, client=client)
    assert isinstance(confirmed, BookingOut) and confirmed.status == "confirmed"

    one_pm = utc(day, 13)
    moved = reschedule_booking.sync(id=booking.id, client=client, body=RescheduleBooking(scheduled_at=one_pm))
    assert isinstance(moved, BookingOut)
    assert (moved.id, moved.status, moved.scheduled_at, moved.end_at) == (
        booking.id,
        "confirmed",
        instant(day, 13),
        instant(day, 14),
    )

    cancelled = cancel_booking.sync(id=booking.id, client=client, body=CancelBooking(reason="Plans changed"))
    assert isinstance(cancelled, BookingOut)
    assert (cancelled.status, cancelled.cancel_reason) == ("cancelled", "Plans changed")

    # A second cancel is the typed 409 INVALID_STATE; the booking reads back cancelled.
    again = cancel_booking.sync_detailed(id=booking.id, client=client)
    assert again.status_code == HTTPStatus.CONFLICT, again.content
    assert isinstance(again.parsed, ErrorBody)
    assert (again.parsed.error.code, again.parsed.error.details.status) == ("INVALID_STATE", "cancelled")
    final = get_booking.sync(id=booking.id, client=client)
    assert isinstance(final, BookingOut) and final.status == "cancelled"

    # The slot is free again.
    after = get_service_availability.sync(id=service.id, client=client, from_=day.isoformat(), to=day.isoformat())
    assert isinstance(after, AvailabilityOut)
    assert instant(day, 10) in [slot.start for slot in after.slots]
