"""What every feature uses: context, people, access, audit, actions, outbox, notify, cards."""
