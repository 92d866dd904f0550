from setuptools import find_packages, setup

setup(
    name="coleman",
    version="1.0",
    description="A small Django site: the example project of djangowsgi.",
    packages=find_packages(),
    include_package_data=True,
    package_data={"coleman": ["templates/coleman/*.html", "static/coleman/*"]},
    install_requires=["Django>=5.2,<6.2"],
    python_requires=">=3.10",
)
