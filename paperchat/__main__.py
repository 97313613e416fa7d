from paperchat.main import run

run()
