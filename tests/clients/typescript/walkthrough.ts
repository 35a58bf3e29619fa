// The README's walkthrough written against the types openapi-typescript
// generates from /openapi.json. scripts/test-clients.sh generates
// `booking-api` (booking-api.d.ts) and compiles this file with
// `tsc --noEmit`: it type-checks every request and response of the calls,
// so a renamed field, a missing response or a changed shape fails the
// build. Nothing here runs.

import type { components, operations, paths } from "booking-api";

type Schemas = components["schemas"];
type JsonBody<T> = T extends { content: { "application/json": infer B } } ? B : never;
type RequestOf<Op extends keyof operations> = JsonBody<operations[Op]["requestBody"]>;
type ResponseOf<Op extends keyof operations, S extends keyof operations[Op]["responses"]> = JsonBody<
  operations[Op]["responses"][S]
>;

// The operations are where the README says they are.
type CreateServiceOp = paths["/v1/services"]["post"];
type AvailabilityOp = paths["/v1/services/{id}/availability"]["get"];
type CreateBookingOp = paths["/v1/bookings"]["post"];
type ConfirmOp = paths["/v1/bookings/{id}/confirm"]["post"];
type RescheduleOp = paths["/v1/bookings/{id}/reschedule"]["post"];
type CancelOp = paths["/v1/bookings/{id}/cancel"]["post"];
const sameOperations: [
  CreateServiceOp extends operations["createService"] ? true : false,
  AvailabilityOp extends operations["getServiceAvailability"] ? true : false,
  CreateBookingOp extends operations["createBooking"] ? true : false,
  ConfirmOp extends operations["confirmBooking"] ? true : false,
  RescheduleOp extends operations["rescheduleBooking"] ? true : false,
  CancelOp extends operations["cancelBooking"] ? true : false,
] = [true, true, true, true, true, true];

// 2. The example service.
const service: RequestOf<"createService"> = {
  id: "srv_consultation",
  name: "1-Hour Consultation",
  description: "Expert guidance on your project",
  duration: 60,
  price: { amount: 150, currency: "USD", type: "hourly" },
  availability: {
    days: ["monday", "tuesday", "wednesday", "thursday", "friday"],
    hours: { start: "09:00", end: "17:00" },
    timezone: "America/New_York",
  },
};

// 4. and 5. The booking, and the one that conflicts.
const booking: RequestOf<"createBooking"> = {
  service: "srv_consultation",
  scheduled_at: "2027-01-18T15:00:00Z",
  customer: { email: "customer@example.com", name: "John Doe" },
};
const idempotency: NonNullable<CreateBookingOp["parameters"]["header"]> = {
  "Idempotency-Key": "first-booking",
};
const reschedule: RequestOf<"rescheduleBooking"> = { scheduled_at: "2027-01-18T18:00:00Z" };
const cancel: RequestOf<"cancelBooking"> = { reason: "Plans changed" };

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: Schemas["ErrorBody"],
  ) {
    super(`${status} ${body.error.code}: ${body.error.message}`);
  }
}

async function call<T>(base: string, key: string, method: string, path: string, init: { body?: unknown; headers?: Record<string, string> } = {}): Promise<T> {
  const res = await fetch(base + path, {
    method,
    headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json", ...init.headers },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const json: unknown = await res.json();
  if (!res.ok) throw new ApiError(res.status, json as Schemas["ErrorBody"]);
  return json as T;
}

/** The walkthrough (not run: the Python test runs it against a server). */
export async function walkthrough(base: string, key: string): Promise<string> {
  const created = await call<ResponseOf<"createService", 201>>(base, key, "POST", "/v1/services", { body: service });
  const query: AvailabilityOp["parameters"]["query"] = { from: "2027-01-18", to: "2027-01-22" };
  const week = await call<ResponseOf<"getServiceAvailability", 200>>(
    base,
    key,
    "GET",
    `/v1/services/${created.id}/availability?from=${query.from}&to=${query.to}`,
  );
  const firstSlot: Schemas["SlotOut"] | undefined = week.slots[0];

  const first = await call<ResponseOf<"createBooking", 201>>(base, key, "POST", "/v1/bookings", {
    body: booking,
    headers: idempotency,
  });
  let nextAvailable: string | null | undefined;
  try {
    await call<ResponseOf<"createBooking", 201>>(base, key, "POST", "/v1/bookings", {
      body: { ...booking, customer: { email: "other@example.com", name: "Jane Roe" } },
    });
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 409) throw e;
    const conflict: ResponseOf<"createBooking", 409> = e.body;
    const code: string = conflict.error.code;
    if (code === "BOOKING_CONFLICT") nextAvailable = conflict.error.details.next_available;
  }

  const confirmed = await call<ResponseOf<"confirmBooking", 200>>(base, key, "POST", `/v1/bookings/${first.id}/confirm`);
  const moved = await call<ResponseOf<"rescheduleBooking", 200>>(base, key, "POST", `/v1/bookings/${first.id}/reschedule`, {
    body: reschedule,
  });
  const cancelled = await call<ResponseOf<"cancelBooking", 200>>(base, key, "POST", `/v1/bookings/${first.id}/cancel`, {
    body: cancel,
  });
  const status: Schemas["BookingOut"]["status"] = cancelled.status;
  return [firstSlot?.start, nextAvailable, confirmed.status, moved.scheduled_at, status, sameOperations.length].join(" ");
}
