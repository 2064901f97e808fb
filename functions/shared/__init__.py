"""Cross-cutting helpers shared by every Lambda step: config, AWS clients, errors, time."""
