"""The bookshop's website, Online Books For You."""
