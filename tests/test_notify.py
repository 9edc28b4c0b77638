"""akd.notify.Notifier: waiters wake on changes, time out, and clean up."""

from __future__ import annotations

import asyncio

from akd.notify import Notifier


def test_waiters_wake_on_a_change_and_see_the_new_state() -> None:
    async def main() -> None:
        notifier = Notifier()
        state = {"done": False}

        async def done() -> bool | None:
            return True if state["done"] else None

        waiters = [asyncio.create_task(notifier.wait_for(done, 5)) for _ in range(50)]
        await asyncio.sleep(0.01)
        assert not any(w.done() for w in waiters)
        notifier.changed()  # a change that does not satisfy them: they park again
        await asyncio.sleep(0.01)
        assert not any(w.done() for w in waiters)
        state["done"] = True
        notifier.changed()
        assert await asyncio.wait_for(asyncio.gather(*waiters), 1) == [True] * 50
        assert not notifier._waiters

    asyncio.run(main())


def test_wait_for_times_out_with_none_and_leaves_nothing_behind() -> None:
    async def main() -> None:
        notifier = Notifier()

        async def never() -> bool | None:
            return None

        loop = asyncio.get_running_loop()
        t0 = loop.time()
        assert await notifier.wait_for(never, 0.05) is None
        assert loop.time() - t0 >= 0.05
        assert not notifier._waiters

    asyncio.run(main())


def test_next_change_and_a_cancelled_waiter() -> None:
    async def main() -> None:
        notifier = Notifier()
        seen = notifier.generation
        waiting = asyncio.create_task(notifier.next_change(seen, 5))
        cancelled = asyncio.create_task(notifier.next_change(seen, 5))
        await asyncio.sleep(0.01)
        cancelled.cancel()
        await asyncio.sleep(0)
        assert len(notifier._waiters) == 1  # the cancelled one took its future away
        notifier.changed()
        assert await asyncio.wait_for(waiting, 1) is True
        assert await notifier.next_change(seen, 0) is True  # already moved on: no wait
        assert await notifier.next_change(notifier.generation, 0.01) is False

    asyncio.run(main())
