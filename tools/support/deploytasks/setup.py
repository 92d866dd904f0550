from setuptools import setup

# The test deploys' task queue beside the example (tools/support/sshd.py): django-tasks'
# database backend in the hosts' shared PostgreSQL, a view that enqueues, a task that
# records which host and release ran it.
setup(name="deploytasks", version="0.1", packages=["deploytasks", "deploytasks.migrations"],
      install_requires=["coleman", "django-tasks-db[compat]"])
