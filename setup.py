"""Build hook for what pyproject.toml cannot say: the files the components read at run time.

The Lambda sources (`lambdas/`) and the web app (`apps/`) stay at the repository's root, where the
program and the tests read them, and ship inside the package as `components/_files/lambdas/` and
`components/_files/apps/`, where components/assets.py finds them in an installed wheel. Every
package and folder is found, so a new pattern or function needs no line here.
"""

from setuptools import find_namespace_packages, find_packages, setup

FILES = {"components._files.lambdas": "lambdas", "components._files.apps": "apps"}
# Each folder below them is listed too: setuptools ships a folder's files only for packages it
# is told about (and warns about every folder it would skip). Its finder leaves out __pycache__.
FILE_PACKAGES = [
    f"{package}.{sub}" if sub else package
    for package, folder in FILES.items()
    for sub in ["", *find_namespace_packages(where=folder)]
]

setup(
    packages=[*find_packages(include=["components", "components.*"]), *FILE_PACKAGES],
    package_dir=FILES,
    package_data={package: ["*"] for package in FILE_PACKAGES},
)
