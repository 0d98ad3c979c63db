"""Seed 003's voice and WhatsApp flow on memory_rs: each incoming message is
recorded, the conversation context for it is fetched, and the character's
system prompt is enhanced with it before the model answers.

Run: python examples/enhance_system_prompt.py [DB_PATH]
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile

from memory_rs import AsyncMemory

CHARACTER = "meher"
BASE_PROMPT = "You are Meher, a helpful AI assistant."


async def enhance_system_prompt(
    memory: AsyncMemory,
    *,
    user_id: str,
    character_name: str,
    session_id: str,
    current_message: str,
    base_system_prompt: str,
) -> str:
    """The base prompt followed by what the character remembers about the
    user that bears on the current message, and the recent conversation."""
    context = await memory.context(
        current_message,
        user_id=user_id,
        agent_id=character_name,
        session_id=session_id,
        token_budget=400,
    )
    return context.enhance(base_system_prompt)


def generate_ai_response(prompt: str, message: str) -> str:
    """Stands in for the chat model the seed calls."""
    return f"(answer to {message!r} given {len(prompt)} characters of prompt)"


async def handle_message(memory: AsyncMemory, user_id: str, session_id: str, message: str) -> str:
    """One turn: record the user's message, enhance the prompt, answer,
    record the answer. Returns the prompt the model saw."""
    await memory.record_message(session_id, message, user_id=user_id, agent_id=CHARACTER)
    prompt = await enhance_system_prompt(
        memory,
        user_id=user_id,
        character_name=CHARACTER,
        session_id=session_id,
        current_message=message,
        base_system_prompt=BASE_PROMPT,
    )
    reply = generate_ai_response(prompt, message)
    await memory.record_message(
        session_id, reply, role="assistant", user_id=user_id, agent_id=CHARACTER
    )
    return prompt


async def main(db: str) -> None:
    async with await AsyncMemory.open(store=f"sqlite://{db}", worker=False) as memory:
        user = "whatsapp:+5511900000000"
        await memory.add(
            "Prefers to be called Sam", user_id=user, agent_id=CHARACTER, kind="profile"
        )
        await memory.add(
            "Is training for the Lisbon marathon in October",
            user_id=user,
            agent_id=CHARACTER,
            kind="event",
            importance=8,
        )
        await memory.add(
            "Is vegetarian", user_id=user, agent_id=CHARACTER, kind="preference"
        )
        prompt = ""
        for message in [
            "Hi Meher, good morning!",
            "What should I eat before my long run on Sunday?",
        ]:
            prompt = await handle_message(memory, user, "voice-call-1", message)
        print(prompt)
        for expected in (BASE_PROMPT, "Sam", "marathon", "long run"):
            if expected not in prompt:
                raise SystemExit(f"the enhanced prompt lacks {expected!r}")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(tmp, "memory.db")
        asyncio.run(main(path))
